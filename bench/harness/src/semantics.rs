//! Before a variant is loaded: does it do what the routes promise? And the
//! sessions the load runs over.

use std::net::SocketAddr;

use support::routes::{PLAIN, PLAIN_BODY, READ, SEED, VISITS};

use crate::Result;
use crate::client::{Client, Response};
use crate::variants::Variant;

/// Checks the routes' behaviour (see `support::routes`): for a variant with
/// sessions, seed → read 0 → visits 1, 2 → read 2 (sending the cookie the
/// server set last), misses without a valid cookie, and no cookie from
/// `/plain`; for a bare variant, 200 everywhere.
pub fn check(variant: &Variant, address: SocketAddr) -> Result<()> {
    let mut client = Client::connect(address)?;
    let plain = client.get(PLAIN, None)?;
    expect(&plain, "GET /plain", 200, Some(PLAIN_BODY))?;
    no_cookie(&plain, "GET /plain")?;
    if !variant.has_sessions() {
        for route in [SEED, VISITS, READ] {
            expect(&client.get(route, None)?, route, 200, None)?;
        }
        return Ok(());
    }
    for route in [READ, VISITS] {
        let response = client.get(route, None)?;
        if !(400..500).contains(&response.status) {
            return Err(
                format!("GET {route} without a cookie: {}, not 4xx", response.status).into(),
            );
        }
    }
    let seeded = client.get(SEED, None)?;
    expect(&seeded, "GET /seed", 200, None)?;
    let mut cookie = seeded.cookie()?.to_owned();
    let steps = [(READ, "0"), (VISITS, "1"), (VISITS, "2"), (READ, "2")];
    for (route, body) in steps {
        let response = client.get(route, Some(&cookie))?;
        expect(
            &response,
            &format!("GET {route} with the session's cookie"),
            200,
            Some(body),
        )?;
        // As a browser does: a store that keeps the session in its cookie
        // sends a new one whenever the session changes.
        if !response.set_cookies.is_empty() {
            cookie = response.cookie()?.to_owned();
        }
    }
    let plain = client.get(PLAIN, Some(&cookie))?;
    expect(&plain, "GET /plain with a session", 200, Some(PLAIN_BODY))?;
    no_cookie(&plain, "GET /plain with a session")?;
    let (name, _) = cookie.split_once('=').ok_or("a cookie without '='")?;
    let forged = client.get(READ, Some(&format!("{name}=forged")))?;
    if !(400..500).contains(&forged.status) {
        return Err(format!("GET /read with a forged cookie: {}, not 4xx", forged.status).into());
    }
    Ok(())
}

/// Creates `count` sessions and answers their cookies (`name=value`). A bare
/// variant gets made-up cookies of a typical size, so that its requests
/// carry as many bytes as the others'.
pub fn seed(variant: &Variant, address: SocketAddr, count: usize) -> Result<Vec<String>> {
    let mut client = Client::connect(address)?;
    (0..count)
        .map(|index| {
            let response = client.get(SEED, None)?;
            expect(&response, "GET /seed", 200, Some("0"))?;
            if variant.has_sessions() {
                Ok(response.cookie()?.to_owned())
            } else {
                Ok(format!("session={index:064x}"))
            }
        })
        .collect()
}

fn expect(response: &Response, what: &str, status: u16, body: Option<&str>) -> Result<()> {
    if response.status != status {
        return Err(format!("{what}: status {}, expected {status}", response.status).into());
    }
    match body {
        Some(body) if response.body.trim() != body => {
            Err(format!("{what}: body {:?}, expected {body:?}", response.body).into())
        }
        _ => Ok(()),
    }
}

fn no_cookie(response: &Response, what: &str) -> Result<()> {
    if response.set_cookies.is_empty() {
        Ok(())
    } else {
        Err(format!("{what} set a cookie: {:?}", response.set_cookies).into())
    }
}
