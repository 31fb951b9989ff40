"""Use cases. Each public function is one transaction that also writes its audit entry."""
