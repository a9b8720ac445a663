"""The scoring engine's stages (``paradigm.engine.run_score`` strings them together).

plan (:mod:`.plan`: options, metric selection, file hashes, cache look-up, work units)
-> decode (:mod:`.decode`: read, resize, align, crop; parallel)
-> batch (:class:`paradigm.batching.SizeBuckets`)
-> execute (:mod:`.execute`: run metrics by reference kind, per-item fallback)
-> collect (:mod:`.collect`: rows, errors, counts, cache writes, tables, composite, run information).

The unit of work (:class:`.unit.WorkUnit`: GT groups of pairs with what each still needs, plus
the decode policy) is plain, picklable data; :func:`.worker.score_unit` turns one into a stream of
outcomes on any worker that holds the metrics. The local backend (:mod:`.local`) runs it in this
process; a distributed backend runs the same function elsewhere and streams outcomes back to the
driver, which alone writes the cache and the outputs.
"""
