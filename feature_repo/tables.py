"""File names of the feature tables behind the views (kept free of imports on purpose)."""

PROFILE_TABLE = "customer_profile.parquet"
ACTIVITY_TABLE = "customer_activity.parquet"
SUPPORT_TABLE = "customer_support.parquet"
