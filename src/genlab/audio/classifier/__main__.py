from genlab.audio.classifier.train import main

main()
