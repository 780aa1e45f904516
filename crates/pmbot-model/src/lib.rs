//! pmbot's model: data sets of order-book features and labels built from
//! recorded market data, for a classifier that must say how confident it is.

pub mod dataset;
