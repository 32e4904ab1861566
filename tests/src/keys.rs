//! The WebDriver key codes the keyboard tests press (W3C WebDriver, "Keyboard actions").

pub const TAB: char = '\u{E004}';
pub const ENTER: char = '\u{E007}';
pub const SHIFT: char = '\u{E008}';
pub const ESCAPE: char = '\u{E00C}';
pub const END: char = '\u{E010}';
pub const HOME: char = '\u{E011}';
pub const ARROW_UP: char = '\u{E013}';
pub const ARROW_DOWN: char = '\u{E015}';
