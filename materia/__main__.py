from materia.cli.main import main

main()
