"""The deterministic demo tenant (:mod:`.tenant`) and the source that serves it (:mod:`.source`)."""
