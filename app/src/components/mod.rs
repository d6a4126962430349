//! Reusable views.
pub mod echart;
pub mod kpi_tile;
pub mod nav;

pub use echart::EChart;
pub use kpi_tile::KpiTile;
pub use nav::Nav;
