"""REST API of the tariffs app (mounted under /api/v1/ by powersync_site.api)."""
