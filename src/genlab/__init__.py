"""genlab: train, sample and evaluate generative models.

>>> import genlab
>>> result = genlab.train("image-generation", model="dcgan", data="builtin:mnist-5k", max_minutes=5)
>>> pipe = genlab.load(result.run.path)
>>> images = pipe(n=16, seed=0)
"""

from genlab.__about__ import __version__
from genlab.api import evaluate, export, generate, list_models, load, train, tune_guidance
from genlab.core.errors import GenlabError

__all__ = [
    "GenlabError",
    "__version__",
    "evaluate",
    "export",
    "generate",
    "list_models",
    "load",
    "train",
    "tune_guidance",
]
