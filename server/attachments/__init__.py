"""Files attached to asynchronous cases: content-sniffed, size-capped, stored by content hash."""
