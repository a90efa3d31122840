"""Pure code: no server, subprocess, notebook or browser; each test well under a second (marker ``unit``)."""
