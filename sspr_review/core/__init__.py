"""The bottom layer: what every other part of the kit may import, and which imports nothing else of the kit.

- :mod:`.vocabulary`: severities, the kinds of data (:data:`~.vocabulary.DataKind`), activity names, KPIs
- :mod:`.errors`: every exception of the kit, one tree
- :mod:`.timefmt`: the one timestamp formatter and parser; :mod:`.weeks`: the review calendar
- :mod:`.schema`: the normalised tables' columns and dtypes; :mod:`.coverage`: what the store covers per kind
- :mod:`.records`: records as received, and those set aside with the reason
- :mod:`.settings`: the analyses' thresholds; :mod:`.reason_rules`: the resultReason rule table
- :mod:`.config`: the TOML file, environment overrides, validation
- :mod:`.files`: owner-only folders and atomic writes

Only :mod:`.schema` imports pandas: the command line's start-up (``sspr-review --help``) reads the configuration
without it.
"""
