"""The assistant itself, channel-agnostic: `Assistant.handle(Incoming) -> list[Reply]`."""
from handlers.core import Assistant

__all__ = ["Assistant"]
