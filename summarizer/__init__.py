"""summarizer: structured summaries and translations of news articles with any LLM.

Kept import-light on purpose: ``summarize --help`` and ``--version`` must answer without
loading litellm or a model.
"""

__version__ = "0.1.0"
