from genlab.cli.main import main

main()
