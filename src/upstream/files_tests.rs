//! Unit tests of the growing-file stream that serves a fetch while it is verified.

use std::io::Write;

use futures_util::StreamExt;

use super::*;

/// A transfer over a file holding `bytes`, and the sender that reports its progress.
fn transfer(bytes: &[u8]) -> (Arc<Transfer>, watch::Sender<Progress>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing");
    File::create(&path).unwrap().write_all(bytes).unwrap();
    let (sender, progress) = watch::channel(Progress::Connecting);
    let file = File::open(&path).unwrap();
    (Arc::new(Transfer { file, progress }), sender, dir)
}

async fn next_within(
    stream: &mut (
             impl futures_util::Stream<Item = std::result::Result<Bytes, actix_web::Error>> + Unpin
         ),
) -> Option<Option<std::result::Result<Bytes, actix_web::Error>>> {
    actix_web::rt::time::timeout(std::time::Duration::from_millis(200), stream.next())
        .await
        .ok()
}

#[actix_web::test]
async fn the_last_byte_waits_for_the_digest() {
    let (transfer, sender, _dir) = transfer(b"hello world");
    let mut stream = Box::pin(read_growing(transfer.clone(), transfer.progress.clone()));
    sender.send_replace(Progress::Receiving {
        written: 11,
        length: Some(11),
    });
    let first = next_within(&mut stream).await.unwrap().unwrap().unwrap();
    assert_eq!(&first[..], b"hello worl");
    assert!(
        next_within(&mut stream).await.is_none(),
        "sent before verified"
    );
    sender.send_replace(Progress::Done { size: 11 });
    let last = next_within(&mut stream).await.unwrap().unwrap().unwrap();
    assert_eq!(&last[..], b"d");
    assert!(next_within(&mut stream).await.unwrap().is_none());
}

#[actix_web::test]
async fn a_failed_digest_ends_the_response_short() {
    let (transfer, sender, _dir) = transfer(b"hello world");
    let mut stream = Box::pin(read_growing(transfer.clone(), transfer.progress.clone()));
    sender.send_replace(Progress::Receiving {
        written: 11,
        length: Some(11),
    });
    assert_eq!(
        next_within(&mut stream)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .len(),
        10
    );
    sender.send_replace(Progress::Failed("sha256 differs".into()));
    assert!(next_within(&mut stream).await.unwrap().unwrap().is_err());
    assert!(next_within(&mut stream).await.unwrap().is_none());
}

#[actix_web::test]
async fn a_fetch_that_vanishes_is_an_error_not_a_hang() {
    let (transfer, sender, _dir) = transfer(b"abc");
    let mut stream = Box::pin(read_growing(transfer.clone(), transfer.progress.clone()));
    drop(sender);
    assert!(next_within(&mut stream).await.unwrap().unwrap().is_err());
}
