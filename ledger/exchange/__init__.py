"""The exchange contract: the messages other systems send, validated, with their published JSON Schema."""
