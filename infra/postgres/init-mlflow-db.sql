-- Runs once, on an empty data directory: MLflow's backend store gets its own database beside
-- Keel's (Feast SQL registry, prediction log), owned by the same role.
CREATE DATABASE mlflow OWNER keel;
