"""The MLflow side of Keel: registered versions, audited alias moves, comparison, lineage.

One module per job: `client` (the MlflowClient and experiment), `models` (load a version),
`refs` (`eta`, `eta/7`, `eta@champion`), `catalog` (list/show), `aliases` (move_alias,
rollback_alias, alias_history), `history_store` + `database` (Keel's table in MLflow's database),
`compare`, `lineage`, `ui`.

What lives where: MLflow keeps versions, aliases (where each points *now*), tags (gate decision,
code commit, training run, feature service and definitions hash), runs, metrics, params and
datasets; Keel adds only what MLflow lacks, the alias history (`keel_alias_history`, versioned
by `keel_schema_version`), in the same database so one transaction covers an alias and its
history row.
"""
