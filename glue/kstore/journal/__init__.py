"""The gatherer's raw frame journal: every WebSocket frame, exactly as received (decision 0035).

`format` is the on-disk layout, `writer` appends (the gatherer's hot path), `reader` iterates
records of a segment or a time range (for recovery, reparse, the lake export and replay),
`checkpoint` keeps the durable watermark of committed frames, `apply` feeds journal frames back
through the gatherer's own parse and `on conflict` path, `recovery` does that at start.
"""
