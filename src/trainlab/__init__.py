"""trainlab: the classic experiments of a first deep-learning course, one command each."""

__version__ = "0.1.0"
