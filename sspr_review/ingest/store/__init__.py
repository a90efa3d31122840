"""The history store (:mod:`.history`)."""
