"""The desktop window and the `hearth` command. Importing this package imports no Qt."""
