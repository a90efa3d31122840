"""The application layer: what the command line, the notebooks and the e-mail do with the layers below.

- :mod:`.workspace`: :class:`~.workspace.Workspace`, the thin facade the CLI and notebooks share, and
  :func:`~.workspace.open_workspace`
- :mod:`.inputs`: loading a review's inputs from the store (I/O only, one place every caller uses)
- :mod:`.review`: one review: the inputs loaded, then built by the analyses (pure), Arrow's memory handed back
- :mod:`.week`: which week is reviewed (the most recent one, or the last one exported files cover)
- :mod:`.fetching`: one fetch: the source opened, the tenant noted, every kind of data into the store
- :mod:`.demo_history`: the demo tenant's store, rebuilt as weekly scheduled fetches would have filled it
- :mod:`.lookups`: which users a lean registration snapshot must hold (the analyses run for the fetch)
- :mod:`.notebook`: a notebook's parameters, checked, and the :class:`~.notebook.Context` its sections take

It may import the core, the sources, the ingest layer and the analyses; the report, the e-mail and the command
line sit on top of it.
"""
