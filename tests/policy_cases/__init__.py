"""Policy cases, one YAML file per source document (OpenFisca style), run by test_cases.py."""
