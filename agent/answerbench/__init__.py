"""The answer benchmark: the summarizer role, measured (resources/benchmark/ANSWERS.md)."""
