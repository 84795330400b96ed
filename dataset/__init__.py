"""A pairs dataset's whole life, without Beam or torch: preparing an output, writing parts and
the manifest (`output`), reading (`read`), stats, completion markers, and the MinHash
signatures that say what a near copy is (`minhash`)."""
