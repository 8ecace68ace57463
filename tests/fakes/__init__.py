"""Small local HTTP servers standing in for services that cannot be built or installed here
(Loki, Grafana: AGPL; Uptime Kuma). They answer with the documented API shapes, nothing more;
tests that use them say so."""
