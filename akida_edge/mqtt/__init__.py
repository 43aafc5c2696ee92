"""MQTT for akida-edge: topics, versioned payloads, the disk outbox, the client owner thread and an
embedded broker. Layout and reasons: `docs/mqtt.md` and DESIGN.md §4."""
