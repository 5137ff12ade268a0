"""The assistant itself, channel-agnostic: `Assistant.handle(Incoming) -> list[Reply]`.

Import `handlers.assistant.Assistant`; this package file stays empty so that importing one
feature module does not import them all."""
