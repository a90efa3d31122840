"""From records to the history store: the normalised schema, normalisation, coverage and the fetch run."""
