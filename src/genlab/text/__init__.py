"""Text: tokenizers, data, language models (n-gram, char-RNN, GPT), encoder–decoders, decoding, pipelines."""

from genlab.text import datasets, dialogue, exercises, explain, gpt, ngram, rnn, seq2seq, summarize, task  # noqa: F401  (registers models, datasets, tasks, pipelines)
