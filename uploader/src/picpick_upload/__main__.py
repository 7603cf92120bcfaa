from picpick_upload.cli import main

main()
