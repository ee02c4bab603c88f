//! mTCP's table files (config.c): `arp.conf` (`ARP_ENTRY <N>` then N `<ip>/<prefix> <mac>`
//! lines) and `route.conf` (`ROUTES <N>` then N `<ip>/<prefix> <ifname>` lines, a `/0` entry
//! being the default gateway and last). `#` starts a comment; blank lines are skipped.
use std::path::{Path, PathBuf};

use super::values::parse_unsigned;
use super::{ArpEntry, ConfigError, Route};

/// mTCP's `MAX_ROUTE_ENTRY`.
pub(super) const MAX_ROUTES: usize = 64;

/// The table files a `mtcp.conf` in `dir` uses when it names none: mTCP reads
/// `config/<name>` relative to the working directory; we look in `<dir>/config/` first,
/// then beside the file.
pub(super) fn default_table(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join("config").join(name), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// The meaningful lines of a table file: (1-based line number, text without comment).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or("").trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// Parses a table: a `<keyword> <N>` header, then N entries. An empty file (only comments)
/// is an empty table. Errors name `file` and the line.
fn parse_table<T>(
    text: &str,
    file: &Path,
    keyword: &str,
    max: Option<usize>,
    parse_entry: impl Fn(&str) -> Result<T, ConfigError>,
) -> Result<Vec<(usize, T)>, ConfigError> {
    let at = |line: usize| move |e: ConfigError| e.with_line(Some(line)).with_file(Some(file));
    let mut lines = lines(text);
    let Some((header_line, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let declared = match header.split_whitespace().collect::<Vec<_>>()[..] {
        [word, n] if word == keyword => parse_unsigned(n)
            .map_err(|e| ConfigError::new(format!("{keyword} count: {}", e.message)))
            .map_err(at(header_line))?,
        _ => {
            return Err(ConfigError::new(format!(
                "expected the header '{keyword} <number of entries>' first, found '{header}'"
            )))
            .map_err(at(header_line))
        }
    };
    if let Some(max) = max {
        if declared > max as u64 {
            return Err(ConfigError::new(format!(
                "{keyword} {declared} is more than the limit of {max} entries"
            )))
            .map_err(at(header_line));
        }
    }
    let mut entries = Vec::new();
    for (line, text) in lines {
        if entries.len() as u64 == declared {
            return Err(ConfigError::new(format!(
                "more entries than the {declared} that '{keyword} {declared}' specifies"
            )))
            .map_err(at(line));
        }
        entries.push((line, parse_entry(text).map_err(at(line))?));
    }
    if (entries.len() as u64) < declared {
        return Err(ConfigError::new(format!(
            "'{keyword} {declared}' expects {declared} entries, found {}",
            entries.len()
        )))
        .map_err(at(header_line));
    }
    Ok(entries)
}

/// Parses `arp.conf` text read from `file`.
pub(super) fn parse_arp_table(text: &str, file: &Path) -> Result<Vec<ArpEntry>, ConfigError> {
    let entries = parse_table(text, file, "ARP_ENTRY", None, str::parse::<ArpEntry>)?;
    Ok(entries.into_iter().map(|(_, e)| e).collect())
}

/// Parses `route.conf` text read from `file`, with mTCP's rules: at most 64 routes, a `/0`
/// entry must be the last.
pub(super) fn parse_route_table(text: &str, file: &Path) -> Result<Vec<Route>, ConfigError> {
    let entries = parse_table(text, file, "ROUTES", Some(MAX_ROUTES), str::parse::<Route>)?;
    let routes: Vec<Route> = entries.iter().map(|(_, r)| r.clone()).collect();
    if let Some(i) = misplaced_default_route(&routes) {
        return Err(default_not_last())
            .map_err(|e| e.with_line(Some(entries[i].0)).with_file(Some(file)));
    }
    Ok(routes)
}

/// The index of a default (`/0`) route that is not the last route, if any.
pub(super) fn misplaced_default_route(routes: &[Route]) -> Option<usize> {
    let last = routes.len().checked_sub(1)?;
    routes
        .iter()
        .position(|r| r.dest.prefix_len == 0)
        .filter(|&i| i != last)
}

/// The error for [`misplaced_default_route`].
pub(super) fn default_not_last() -> ConfigError {
    ConfigError::new("the default route (a /0 entry) must be the last route, and there may be one")
}
