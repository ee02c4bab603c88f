//! `mtcp.conf` lines (config.c `LoadConfiguration`/`ParseConfiguration`) and how a batch of
//! `key = value` assignments is applied to a [`Config`].
//!
//! A line is cut at `#`, then split on spaces, tabs and `=`: the first token is the key, the
//! rest (joined by single spaces) the value. A key without a value is an error, as in mTCP.
use std::path::{Path, PathBuf};

use super::keys::{self, Key};
use super::tables::{
    self, default_not_last, misplaced_default_route, parse_arp_table, parse_route_table, MAX_ROUTES,
};
use super::{ArpEntry, Config, ConfigError, Route};

/// One `key = value`, with its 1-based line when it came from a file.
#[derive(Debug, Clone)]
pub(super) struct Assignment {
    key: String,
    value: String,
    line: Option<usize>,
}

impl Assignment {
    pub(super) fn new(key: &str, value: &str, line: Option<usize>) -> Assignment {
        Assignment {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            line,
        }
    }
}

/// How a batch is applied.
pub(super) struct Batch<'a> {
    /// The `mtcp.conf` the assignments came from (for errors and relative table paths).
    pub(super) file: Option<&'a Path>,
    /// Look for `arp.conf`/`route.conf` beside `file` when the batch names none.
    pub(super) search_default_tables: bool,
    /// mTCP's rule: if only one of `rcvbuf`/`sndbuf` is given, the other copies it.
    pub(super) mirror_buffers: bool,
}

/// Reads a configuration file as UTF-8 text.
pub(super) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("cannot read the file: {e}")).with_file(Some(path)))
}

/// The key whose value is taken verbatim after the first '=' (other keys, as in mTCP, treat
/// '=' as a separator like whitespace).
const RAW_VALUE_KEY: &str = "dpdk_eal_args";

/// Splits `mtcp.conf` text into assignments.
pub(super) fn parse_lines(text: &str, file: Option<&Path>) -> Result<Vec<Assignment>, ConfigError> {
    let mut assignments = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let content = line.split('#').next().unwrap_or("");
        let mut tokens = content
            .split(|c: char| c.is_ascii_whitespace() || c == '=')
            .filter(|t| !t.is_empty());
        let Some(key) = tokens.next() else { continue };
        let value = if key == RAW_VALUE_KEY {
            // EAL arguments keep their own '=' (`--vdev=net_tap0,iface=t0`): the value is
            // everything after the first '=' of the line.
            let rest = content.split_once('=').map_or("", |(_, rest)| rest);
            rest.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            tokens.collect::<Vec<_>>().join(" ")
        };
        if value.is_empty() {
            return Err(ConfigError::new("no value given (expected 'key = value')")
                .with_key(key)
                .with_line(Some(line_no))
                .with_file(file));
        }
        assignments.push(Assignment::new(key, &value, Some(line_no)));
    }
    Ok(assignments)
}

/// A table key's request in a batch: the value and the line it came from.
struct TableRequest<'a> {
    value: &'a str,
    line: Option<usize>,
}

/// Applies a batch in order; the last assignment of a key wins, except that `arp`/`route`
/// assignments accumulate. Tables are read after every other key is set.
pub(super) fn apply(
    config: &mut Config,
    batch: &[Assignment],
    how: &Batch<'_>,
) -> Result<(), ConfigError> {
    let place = |a: &Assignment| {
        let key = a.key.clone();
        let line = a.line;
        move |e: ConfigError| e.with_key(&key).with_line(line).with_file(how.file)
    };
    let mut inline_arp: Option<(Vec<ArpEntry>, Option<usize>)> = None;
    let mut inline_routes: Option<(Vec<Route>, Option<usize>)> = None;
    let mut arp_conf: Option<TableRequest<'_>> = None;
    let mut route_conf: Option<TableRequest<'_>> = None;
    let (mut rcvbuf_given, mut sndbuf_given) = (false, false);

    for a in batch {
        let key = Key::from_name(&a.key)
            .ok_or_else(|| ConfigError::new(keys::unknown_key_message(&a.key)))
            .map_err(place(a))?;
        match key {
            Key::Arp => {
                let entries = parse_list::<ArpEntry>(&a.value).map_err(place(a))?;
                let list = inline_arp.get_or_insert_with(|| (Vec::new(), a.line));
                list.0.extend(entries);
                list.1 = a.line;
            }
            Key::Route => {
                let entries = parse_list::<Route>(&a.value).map_err(place(a))?;
                let list = inline_routes.get_or_insert_with(|| (Vec::new(), a.line));
                list.0.extend(entries);
                list.1 = a.line;
            }
            Key::ArpConf => {
                arp_conf = Some(TableRequest {
                    value: &a.value,
                    line: a.line,
                })
            }
            Key::RouteConf => {
                route_conf = Some(TableRequest {
                    value: &a.value,
                    line: a.line,
                })
            }
            _ => {
                keys::set(config, key, &a.value).map_err(place(a))?;
                rcvbuf_given |= key == Key::Rcvbuf;
                sndbuf_given |= key == Key::Sndbuf;
            }
        }
    }

    if how.mirror_buffers {
        match (rcvbuf_given, sndbuf_given) {
            (true, false) => config.sndbuf = config.rcvbuf,
            (false, true) => config.rcvbuf = config.sndbuf,
            _ => {}
        }
    }

    let base = how
        .file
        .or(config.source.as_deref())
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let place_key = |key: &str, line: Option<usize>| {
        let key = key.to_string();
        move |e: ConfigError| e.with_key(&key).with_line(line).with_file(how.file)
    };

    // ARP: a batch that names any ARP source replaces the list with table ++ inline entries.
    let arp_table = load_table(
        &base,
        arp_conf,
        "arp.conf",
        how.search_default_tables,
        parse_arp_table,
    )
    .map_err(|(e, line)| place_key("arp_conf", line)(e))?;
    let arp_table = arp_table.and_then(|(path, table)| {
        config.arp_conf = path;
        table
    });
    if arp_table.is_some() || inline_arp.is_some() {
        let mut arp = arp_table.unwrap_or_default();
        arp.extend(inline_arp.map(|(list, _)| list).unwrap_or_default());
        config.arp = arp;
    }

    // Routes: likewise, then the default route is moved last (a table's and an inline list's
    // may both be fine alone), with mTCP's limits on the whole list.
    let route_table = load_table(
        &base,
        route_conf,
        "route.conf",
        how.search_default_tables,
        parse_route_table,
    )
    .map_err(|(e, line)| place_key("route_conf", line)(e))?;
    let route_table = route_table.and_then(|(path, table)| {
        config.route_conf = path;
        table
    });
    if route_table.is_some() || inline_routes.is_some() {
        let inline_line = inline_routes.as_ref().and_then(|(_, line)| *line);
        let mut routes = route_table.unwrap_or_default();
        routes.extend(inline_routes.map(|(list, _)| list).unwrap_or_default());
        let defaults = routes.iter().filter(|r| r.dest.prefix_len == 0).count();
        if defaults > 1 {
            return Err(place_key("route", inline_line)(default_not_last()));
        }
        if routes.len() > MAX_ROUTES {
            return Err(place_key("route", inline_line)(ConfigError::new(format!(
                "{} routes are more than the limit of {MAX_ROUTES}",
                routes.len()
            ))));
        }
        routes.sort_by_key(|r| r.dest.prefix_len == 0);
        debug_assert!(misplaced_default_route(&routes).is_none());
        config.routes = routes;
    }
    Ok(())
}

/// A comma-separated list of table entries (the `arp`/`route` keys); empty text is empty.
fn parse_list<T: std::str::FromStr<Err = ConfigError>>(text: &str) -> Result<Vec<T>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The outcome of an `arp_conf`/`route_conf` request: `None` when nothing was asked for or
/// found; otherwise the path now in use (`None` after `key = ""`) and the table read, if any.
type TableOutcome<T> = Option<(Option<PathBuf>, Option<Vec<T>>)>;

/// Reads the table a batch names, or the default one. A named file must exist; a missing
/// default is fine. Errors come with the line of the naming key.
fn load_table<T>(
    base: &Option<PathBuf>,
    request: Option<TableRequest<'_>>,
    default_name: &str,
    search_default: bool,
    parse: fn(&str, &Path) -> Result<Vec<T>, ConfigError>,
) -> Result<TableOutcome<T>, (ConfigError, Option<usize>)> {
    let (path, line) = match request {
        Some(TableRequest { value: "", .. }) => return Ok(Some((None, None))),
        Some(TableRequest { value, line }) => {
            let path = match base {
                Some(base) => base.join(value),
                None => PathBuf::from(value),
            };
            (path, line)
        }
        None if search_default => {
            let dir = base.clone().unwrap_or_default();
            match tables::default_table(&dir, default_name) {
                Some(path) => (path, None),
                None => return Ok(None),
            }
        }
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        (
            ConfigError::new(format!("cannot read {}: {e}", path.display())),
            line,
        )
    })?;
    // Errors inside the table name the table's file and line; keep them as they are.
    let table = parse(&text, &path).map_err(|e| (e, None))?;
    Ok(Some((Some(path), Some(table))))
}

/// The configuration as `mtcp.conf` text (see [`Config::to_conf_string`]).
pub(super) fn render(config: &Config) -> String {
    let mut out = String::from("# mtcp.conf written by mtcp\n");
    for &key in keys::ALL.iter() {
        if matches!(
            key,
            Key::ArpConf | Key::RouteConf | Key::NumMemCh | Key::Multiprocess
        ) {
            continue;
        }
        let value = keys::get(config, key);
        if value.is_empty() {
            continue;
        }
        if matches!(key, Key::Arp | Key::Route) {
            // One line per entry reads better than one long list; the lines accumulate.
            for entry in value.split(", ") {
                out.push_str(&format!("{} = {entry}\n", key.name()));
            }
        } else {
            out.push_str(&format!("{} = {value}\n", key.name()));
        }
    }
    out
}
