"""``python -m genlab.image.classifier``: train a classifier (see :mod:`genlab.image.classifier.train`)."""

from genlab.image.classifier.train import main

main()
