"""Statistics: the dashboard (数据大屏), open data and the Open311 GeoReport v2 read API."""
