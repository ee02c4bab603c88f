//! A pcap file writer (the classic libpcap format, microsecond timestamps), usable by any
//! backend that wants to record the frames it moves.
//!
//! Format: a 24-byte global header (magic `0xa1b2c3d4` written in native byte order, version
//! 2.4, snap length, link type), then per frame a 16-byte record header (seconds, microseconds,
//! captured length, original length) and the captured bytes. See
//! <https://www.tcpdump.org/manpages/pcap-savefile.5.html>.
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Magic number of a microsecond-resolution pcap file.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;

/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;

/// Default snap length: longer frames are cut to it in the file (their original length is kept).
pub const SNAPLEN: u32 = 65_535;

/// Writes frames to a pcap stream.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    records: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (truncates) the file at `path` and writes the global header of an Ethernet
    /// capture.
    pub fn create(path: &Path) -> io::Result<Self> {
        PcapWriter::new(
            BufWriter::new(File::create(path)?),
            LINKTYPE_ETHERNET,
            SNAPLEN,
        )
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header to `out` and returns a writer for records.
    pub fn new(mut out: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_MICROS.to_ne_bytes());
        header[4..6].copy_from_slice(&2u16.to_ne_bytes()); // version major
        header[6..8].copy_from_slice(&4u16.to_ne_bytes()); // version minor
                                                           // thiszone and sigfigs: 0.
        header[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        header[20..24].copy_from_slice(&linktype.to_ne_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            snaplen,
            records: 0,
        })
    }

    /// Appends one frame seen at `time_us` microseconds (since the epoch of the capture's
    /// clock; for the simulator, virtual time since the fabric started).
    pub fn write_frame(&mut self, time_us: u64, frame: &[u8]) -> io::Result<()> {
        let seconds = (time_us / 1_000_000) as u32;
        let micros = (time_us % 1_000_000) as u32;
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let caplen = orig_len.min(self.snaplen);
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&seconds.to_ne_bytes());
        record[4..8].copy_from_slice(&micros.to_ne_bytes());
        record[8..12].copy_from_slice(&caplen.to_ne_bytes());
        record[12..16].copy_from_slice(&orig_len.to_ne_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&frame[..caplen as usize])?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Pushes buffered records to the underlying stream.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying stream.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_records_layout() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 8).unwrap();
        w.write_frame(3_000_042, &[1, 2, 3]).unwrap();
        w.write_frame(5, &[9; 10]).unwrap();
        assert_eq!(w.records(), 2);
        let b = w.into_inner();
        let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u32_at(0), MAGIC_MICROS);
        assert_eq!(u32_at(16), 8);
        assert_eq!(u32_at(20), LINKTYPE_ETHERNET);
        assert_eq!(
            (u32_at(24), u32_at(28), u32_at(32), u32_at(36)),
            (3, 42, 3, 3)
        );
        assert_eq!(&b[40..43], &[1, 2, 3]);
        // Second record cut to the snap length, original length kept.
        assert_eq!(
            (u32_at(43), u32_at(47), u32_at(51), u32_at(55)),
            (0, 5, 8, 10)
        );
        assert_eq!(b.len(), 59 + 8);
    }
}
