//! The README's Rust example, kept compiling and passing.
use mtcp::{
    consts::*,
    sim::{Impairments, Network},
    Config,
};

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let net = Network::new(7, Impairments::default());
    let server = net
        .add_host("198.18.0.1".parse()?, Config::default())?
        .create_context(0)?;
    let client = net
        .add_host("198.18.0.2".parse()?, Config::default())?
        .create_context(0)?;
    let l = server.socket(AF_INET, SOCK_STREAM, 0)?;
    server.bind(l, "198.18.0.1:80".parse()?)?;
    server.listen(l, 128)?;
    let c = client.socket(AF_INET, SOCK_STREAM, 0)?;
    let e = client.connect(c, "198.18.0.1:80".parse()?).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(mtcp::Errno::EINPROGRESS.raw()));
    net.run_for(mtcp::Duration::from_millis(10));
    let (_s, peer) = server.accept(l)?;
    assert_eq!(peer, client.getsockname(c)?);
    Ok(())
}
