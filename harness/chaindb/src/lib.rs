//! Monero-family chain databases.
