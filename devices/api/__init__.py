"""REST API of the devices app (mounted under /api/v1/ by powersync_site.api)."""
