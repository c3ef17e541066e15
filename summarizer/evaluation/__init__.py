"""The eval suite: cases as data (``evals/``), deterministic graders, an optional judge,
a runner, and reports. Entry point: ``summarize eval`` (``suite.run_eval``)."""
