"""Where records come from: Microsoft Graph, the demo tenant, or a folder of Graph JSON files.

All three implement :class:`~.base.Source` and hand out records exactly as Graph sends them; everything after
that (normalisation, the store, analyses) is the same code for all of them.
"""
