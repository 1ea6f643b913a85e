"""Entry points: the only modules that know about the command line (and, next, HTTP)."""
