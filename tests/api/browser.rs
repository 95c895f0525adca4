//! Browser test (written later).
