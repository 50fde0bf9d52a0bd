"""Pydantic models: the program file (input), rules, knowledge and the assessment (output)."""
