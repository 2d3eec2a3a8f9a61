"""REST API of the pricing app (mounted under /api/v1/ by powersync_site.api)."""
