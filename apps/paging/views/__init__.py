"""Paging views: the incident page's buttons, the public acknowledgement and verification links,
and the admins' channel pages."""
