"""REST API of the households app (mounted under /api/v1/ by powersync_site.api)."""
