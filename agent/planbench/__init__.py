"""The planning benchmark: Q2A task plans scored the way TaskBench scores them (see metrics)."""
