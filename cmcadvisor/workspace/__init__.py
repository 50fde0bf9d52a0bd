"""The local workspace of ``cmcadvisor serve``: a web app over a folder of program files.

Holds the app, the program form generated from the program-file schema and the round-trip
YAML saving. Nothing here evaluates rules itself: the app calls the one pipeline in ``api``.
"""
